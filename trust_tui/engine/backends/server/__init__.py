"""Talking to OpenAI-compatible servers: an HTTP pool with retries (client), who is answering
(identity). The backend that the run loop sees is ``backends.openai_compat``."""
