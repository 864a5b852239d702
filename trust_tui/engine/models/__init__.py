"""Model files: identity (sha256), GGUF headers, discovery on disk, provenance, quantize, hardware."""
