"""AWS STS, the one call SDKs make to learn who they are (`GetCallerIdentity`), answered for the tenant."""
