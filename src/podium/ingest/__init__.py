"""Ingestion: batch jobs, real-time streams and buffered delivery to the lake."""
