export interface DatasetImportsTable {
  id: string;
  dataset_id: string;
  /** What is being imported, for humans ("imagefolder ./shapes", "coco annotations.json"). */
  source: string;
  items: number;
  started_at: number;
  last_activity_at: number;
  finished_at: number | null;
  created_by: string;
}

export interface DataImportTables {
  dataset_imports: DatasetImportsTable;
}
