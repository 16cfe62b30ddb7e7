"""rewardkit.evaluation"""
