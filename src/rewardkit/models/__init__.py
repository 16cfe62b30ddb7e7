"""rewardkit.models"""
