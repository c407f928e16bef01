"""AWS-side helpers shared by the Lambda handlers: clients, logging, transient-error mapping, S3 and Bedrock calls."""
