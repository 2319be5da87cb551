"""Request and response models: the API's shape, in the original field names (movieId, title...)."""
