"""Spark jobs of cryptoquant: technical indicators (``spark.indicators``) and FP-Growth
pattern mining (``spark.fpgrowth``). ``spark.session`` holds the shared session/JDBC helpers."""
