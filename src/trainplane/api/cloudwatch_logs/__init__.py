"""CloudWatch Logs, the part SageMaker users read job logs with, served from trainplane's job logs."""
