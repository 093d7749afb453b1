variable "project_id" {
  description = "Google Cloud project that holds the cluster"
  type        = string
}

variable "region" {
  description = "Region of the regional GKE cluster"
  type        = string
  default     = "us-central1"
}

variable "cluster_name" {
  description = "Name of the GKE cluster"
  type        = string
  default     = "mlops"
}

variable "system_machine_type" {
  description = "Machine type of the CPU pool (control plane replicas, PostgreSQL clients, Kueue, Prometheus)"
  type        = string
  default     = "e2-standard-8"
}

# One node pool per GPU product. `gpu_product` is the value GPU Feature Discovery would put in the
# `nvidia.com/gpu.product` node label; the pool sets that label itself (GKE does not run GFD), so the
# Kueue ResourceFlavors and the runtime's node affinity select the same nodes
# (infrastructure/kubernetes/overlays/production/kueue-gpu-queues.yaml). Kueue's nvidia.com/gpu quota of a
# product's ClusterQueue is max_nodes x gpus_per_node (test/infra-ci.test.ts checks it).
variable "gpu_pools" {
  description = "GPU node pools by name: accelerator type, GPUs per node, machine type, autoscaling bounds"
  type = map(object({
    accelerator   = string
    gpu_product   = string
    gpus_per_node = number
    machine_type  = string
    min_nodes     = number
    max_nodes     = number
    zones         = list(string)
    spot          = bool
  }))
  default = {
    "nvidia-l4" = {
      accelerator   = "nvidia-l4"
      gpu_product   = "NVIDIA-L4"
      gpus_per_node = 2
      machine_type  = "g2-standard-24"
      min_nodes     = 0
      max_nodes     = 4
      zones         = ["us-central1-a"]
      spot          = true
    }
    "nvidia-h100-80gb" = {
      accelerator   = "nvidia-h100-80gb"
      gpu_product   = "NVIDIA-H100-80GB-HBM3"
      gpus_per_node = 8
      machine_type  = "a3-highgpu-8g"
      min_nodes     = 0
      max_nodes     = 2
      zones         = ["us-central1-a"]
      spot          = false
    }
  }
}

variable "artifacts_storage_class" {
  description = "ReadWriteMany StorageClass for the artifacts PVC (Filestore CSI)"
  type        = string
  default     = "standard-rwx"
}
