"""Models: ResNet and STDC backbones, FPN, the Semantic FPN head, the PointRend point head,
segmentors, STDC-Seg, losses."""

from pointrend.models.builder import PADDLESEG_LAYOUT, build_model
from pointrend.models.detail_loss import DetailAggregateLoss
from pointrend.models.fpn import FPN
from pointrend.models.losses import PointRendLoss
from pointrend.models.norm import FrozenBatchNorm2D
from pointrend.models.ohem_loss import OhemCrossEntropyLoss
from pointrend.models.paddleseg_fpn import PaddleSegFPN
from pointrend.models.paddleseg_fpn_head import PaddleSegFPNHead
from pointrend.models.point_head import PointHead
from pointrend.models.pretrained import load_pretrained_backbone
from pointrend.models.resnet import ResNet
from pointrend.models.segmentor import PointRendSegmentor, Segmentor, SemanticFPN
from pointrend.models.semantic_fpn_head import SemanticFPNHead
from pointrend.models.stdc import STDCNet
from pointrend.models.stdc_loss import (
    STDC_LOSS_NAMES,
    STDC_POINTREND_LOSS_NAMES,
    STDCLoss,
    STDCPointRendLoss,
)
from pointrend.models.stdc_pointrend import STDCPointRend, build_stdc_network
from pointrend.models.stdc_pretrained import load_stdc_pretrained
from pointrend.models.stdc_seg import STDCSeg, build_stdc_seg
from pointrend.models.subdivision import adaptive_subdivision

__all__ = [
    "FPN",
    "FrozenBatchNorm2D",
    "PointHead",
    "PointRendLoss",
    "PointRendSegmentor",
    "ResNet",
    "Segmentor",
    "SemanticFPN",
    "SemanticFPNHead",
    "adaptive_subdivision",
    "build_model",
    "load_pretrained_backbone",
    "STDC_LOSS_NAMES",
    "DetailAggregateLoss",
    "OhemCrossEntropyLoss",
    "STDCLoss",
    "STDCNet",
    "STDCSeg",
    "build_stdc_seg",
    "load_stdc_pretrained",
    "STDC_POINTREND_LOSS_NAMES",
    "STDCPointRend",
    "STDCPointRendLoss",
    "build_stdc_network",
    "PADDLESEG_LAYOUT",
    "PaddleSegFPN",
    "PaddleSegFPNHead",
]
