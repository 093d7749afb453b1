# A regional GKE Standard cluster for the platform (infrastructure/terraform/README.md): a CPU pool for the
# control plane and cluster services, and one autoscaled GPU pool per product that scales to zero.
resource "google_container_cluster" "mlops" {
  name     = var.cluster_name
  location = var.region

  # Node pools are managed below; the default pool is removed right after creation.
  remove_default_node_pool = true
  initial_node_count       = 1

  release_channel {
    channel = "REGULAR"
  }

  # NetworkPolicies (infrastructure/kubernetes/base/networkpolicies.yaml) need Dataplane V2 (Cilium).
  datapath_provider = "ADVANCED_DATAPATH"

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  addons_config {
    gcp_filestore_csi_driver_config {
      enabled = true
    }
  }

  monitoring_config {
    managed_prometheus {
      enabled = true
    }
  }
}

resource "google_container_node_pool" "system" {
  name     = "system"
  cluster  = google_container_cluster.mlops.id
  location = var.region

  autoscaling {
    min_node_count = 1
    max_node_count = 3
  }

  node_config {
    machine_type = var.system_machine_type
    oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

resource "google_container_node_pool" "gpu" {
  for_each = var.gpu_pools

  name           = each.key
  cluster        = google_container_cluster.mlops.id
  location       = var.region
  node_locations = each.value.zones

  autoscaling {
    min_node_count = each.value.min_nodes
    max_node_count = each.value.max_nodes
  }

  node_config {
    machine_type = each.value.machine_type
    spot         = each.value.spot
    oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"]

    guest_accelerator {
      type  = each.value.accelerator
      count = each.value.gpus_per_node
      gpu_driver_installation_config {
        gpu_driver_version = "LATEST"
      }
    }

    labels = {
      "nvidia.com/gpu.product" = each.value.gpu_product
    }

    # Only Pods that request nvidia.com/gpu (and so tolerate this taint) land on GPU nodes.
    taint {
      key    = "nvidia.com/gpu"
      value  = "present"
      effect = "NO_SCHEDULE"
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}
