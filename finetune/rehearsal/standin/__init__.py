"""Internals of the simulated Bedrock stand-in; import the public API from ``finetune.rehearsal.bedrock_standin``."""
