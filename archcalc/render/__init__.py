"""Renderers and exporters: a finished Report in, text out."""
