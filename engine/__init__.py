"""Stageflow: a BPMN 2.0 workflow engine that runs Camunda 7 diagrams on SpiffWorkflow."""

__version__ = "0.1.0"
