"""optimize()'s rewrites, one per file; each takes a traced GraphModule and reports what it fused."""

from cnnfast.passes import (avg_pool_as_conv, drop_dropout, fold_channel_shuffle, fuse_activation, fuse_concat, fuse_conv1x1_depthwise,
                            fuse_conv_bn, fuse_linear, fuse_preact_conv,
                            fuse_residual_add, fuse_se_squeeze, fuse_sibling_convs, fuse_small_cnn, fuse_squeeze_excite, reuse_residual_buffer,
                            use_max_pool2d, view_to_reshape)

__all__ = ["avg_pool_as_conv", "drop_dropout", "fold_channel_shuffle", "fuse_activation", "fuse_concat", "fuse_conv1x1_depthwise", "fuse_conv_bn", "fuse_linear", "fuse_preact_conv",
           "fuse_residual_add", "fuse_se_squeeze", "fuse_sibling_convs", "fuse_small_cnn", "fuse_squeeze_excite", "reuse_residual_buffer", "use_max_pool2d", "view_to_reshape"]
