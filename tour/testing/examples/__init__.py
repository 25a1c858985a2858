"""Example tests a learner writes for the shop; SHOP_APP picks the implementation they run against."""
