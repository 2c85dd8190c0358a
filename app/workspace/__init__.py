"""The manager's workspace: what opens below the panel grid at / (drill-downs, the segment
comparison, the comment explorer, follow-ups and the events editor). Everything it shows is
named by URL parameters (``state.py``), so a copied URL opens the same view."""
