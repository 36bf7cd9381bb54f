"""The web ground: app factory, middleware, problem responses, rate limits."""
