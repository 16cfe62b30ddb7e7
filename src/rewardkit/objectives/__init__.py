"""rewardkit.objectives"""
