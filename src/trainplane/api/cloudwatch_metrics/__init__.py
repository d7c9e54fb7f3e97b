"""CloudWatch metrics for training jobs (`/aws/sagemaker/TrainingJobs`), parsed with MetricDefinitions."""
