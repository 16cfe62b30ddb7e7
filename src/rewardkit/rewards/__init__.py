"""rewardkit.rewards"""
