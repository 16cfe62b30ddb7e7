"""rewardkit.serving"""
