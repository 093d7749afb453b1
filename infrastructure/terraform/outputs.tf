output "cluster_name" {
  value = google_container_cluster.mlops.name
}

output "cluster_endpoint" {
  value     = google_container_cluster.mlops.endpoint
  sensitive = true
}

output "get_credentials_command" {
  description = "Points kubectl at the cluster before `kubectl apply -k infrastructure/kubernetes/overlays/production`"
  value       = "gcloud container clusters get-credentials ${google_container_cluster.mlops.name} --region ${var.region} --project ${var.project_id}"
}

# What the Kueue manifests need, per GPU product: the node label value of the ResourceFlavor and the
# nvidia.com/gpu nominalQuota of the ClusterQueue (infrastructure/kubernetes/overlays/production/kueue-gpu-queues.yaml).
output "kueue_gpu_flavors" {
  value = {
    for name, pool in var.gpu_pools : name => {
      node_label_gpu_product = pool.gpu_product
      nominal_quota_gpus     = pool.max_nodes * pool.gpus_per_node
    }
  }
}

# storageClassName of the artifacts PVC (infrastructure/kubernetes/overlays/production/artifacts-size.yaml).
output "artifacts_storage_class" {
  value = var.artifacts_storage_class
}
