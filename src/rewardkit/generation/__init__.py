"""rewardkit.generation"""
