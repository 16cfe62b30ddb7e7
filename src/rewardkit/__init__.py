"""rewardkit: train, evaluate and use reward models."""

__version__ = "0.1.0"
