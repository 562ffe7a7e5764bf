"""Mappings between light_llm models and other ecosystems (Hugging Face transformers)."""
