"""The classroom over REST: classes, their producer keys, and the class views, each answered
by persistence over ``rpc.classroom.*`` / ``rpc.query.class.*``; who may see which class is
:mod:`.visibility`'s to say."""

from .client import ClassroomClient
from .routes import ROUTES

__all__ = ["ROUTES", "ClassroomClient"]
