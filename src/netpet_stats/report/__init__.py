"""Presentation: tables (CSV and Markdown), figures, the HTML/PDF report and methods text.

The report reads only the files its rule hands it (:class:`document.ResultFiles`).
"""
