"""The recluster job: SQL features, MiniBatchKMeans, versioned write-back, the weekly schedule."""
