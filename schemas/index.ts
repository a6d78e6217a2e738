// Public API of schemas/: JSON Schemas (draft 2020-12) for every file format and their validators.
export {};
