"""Comparisons between analyses, the paper's findings and the reproduction report."""
