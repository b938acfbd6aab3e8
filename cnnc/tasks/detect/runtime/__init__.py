"""Detection's part of the runtime, copied beside train.py: boxes.py (IoU, k-means anchors), yolo.py (the
grid: assignment, encoding, the loss written once over an ops table, decoding), nms.py (score threshold and
per-class non-max suppression), evaluate.py (VOC and COCO mAP, PR curves), coco.py (COCO JSON in and out),
labels.py (YOLO text labels, boxes that follow augmentation), torch.py and keras.py (each framework's ops)."""
