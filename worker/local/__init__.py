"""Running mlmon on one machine: the supervised process set (`mlmon up`), an embedded
redis-server, the demo and the ACL recipe."""
