"""Data: the trajectory store, file ingest, ``DistillDataset`` and record featurizers."""
