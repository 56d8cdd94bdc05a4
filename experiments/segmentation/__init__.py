"""Label one modality, segment another through the shared representation
(studies/segment.py): the steps (``segmentation``), their plan (``segmentation_plan``),
the records of finished maps (``segmentation_records``) and the report
(``segmentation_report``)."""
