"""kubesim: a Kubernetes API server simulator (standard library only)."""
