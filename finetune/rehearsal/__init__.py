"""Local rehearsal of the pipeline against moto and a simulated Bedrock stand-in."""
