"""The CDK stacks and the constructs they compose."""
