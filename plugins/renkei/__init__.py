"""renkei: My Number linkage data platform for a Japanese health insurer.

The Airflow DAGs in ``dags/`` only wire tasks together; the work lives in this package so
that it can be unit-tested without a scheduler.
"""

__version__ = "0.1.0"
