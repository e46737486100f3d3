"""Event association: which avatar made each shelf event, handovers, reviews (no ROS)."""
from .associator import Associator, ShelfEventIn
from .config import AssociationConfig
from .history import AvatarFrame, AvatarHistory, AvatarSample

__all__ = ['Associator', 'ShelfEventIn', 'AssociationConfig', 'AvatarFrame', 'AvatarHistory', 'AvatarSample']
