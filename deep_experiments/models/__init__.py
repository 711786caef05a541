"""The networks of the deep arm: the contrastive encoders (ResNet-18, ConvN) and the Viewmaker network."""

from .encoders import ENCODERS, Encoder, build_encoder, encoder_args, encoder_name

__all__ = ["ENCODERS", "Encoder", "build_encoder", "encoder_args", "encoder_name"]
