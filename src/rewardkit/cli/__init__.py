"""rewardkit.cli"""
