"""Authentication: every dialect turns a request into a Principal through one Authenticator port."""
