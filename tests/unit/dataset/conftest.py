"""Makes the `run` fixture of dataset_fixtures available to the dataset tests."""

from dataset_fixtures import run

__all__ = ["run"]
