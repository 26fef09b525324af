"""The Redis fixture, for its rule: skip without redis-server, but fail in CI."""

from tests.redis.conftest import redis_server

__all__ = ["redis_server"]
