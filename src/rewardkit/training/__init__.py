"""rewardkit.training"""
