"""Camera motion from image geometry (numpy / OpenCV only): two-view tools and the hybrid
fusion of tracked points with the network's depth and motion (`hybrid`)."""
