# Hints that let find_package(Torch) succeed with a pip-installed CUDA build of torch, included
# before find_package(Torch) by cnnfast and by programs that use the installed cnnfast package.
#
# A CUDA build of LibTorch looks for the CUDA toolkit even when nothing here uses CUDA. When nvcc
# on PATH is a wrapper script outside the toolkit (as /usr/local/bin/nvcc is on some machines),
# point it at the real toolkit; and pip's torch brings NVRTC in the nvidia-* wheels beside it
# rather than in the toolkit.
if(NOT DEFINED CUDA_TOOLKIT_ROOT_DIR)
  if(DEFINED ENV{CUDA_HOME})
    set(CUDA_TOOLKIT_ROOT_DIR $ENV{CUDA_HOME})
  elseif(EXISTS /usr/local/cuda/bin/nvcc)
    set(CUDA_TOOLKIT_ROOT_DIR /usr/local/cuda)
  endif()
  if(DEFINED CUDA_TOOLKIT_ROOT_DIR)
    set(CUDAToolkit_ROOT ${CUDA_TOOLKIT_ROOT_DIR})
  endif()
endif()
if(NOT CUDA_nvrtc_LIBRARY)
  set(_cnnfast_nvrtc_hints ${CUDA_TOOLKIT_ROOT_DIR}/lib64)
  foreach(_cnnfast_prefix ${CMAKE_PREFIX_PATH})
    get_filename_component(_cnnfast_site "${_cnnfast_prefix}/../../.." ABSOLUTE)  # .../site-packages
    file(GLOB _cnnfast_wheel_libs "${_cnnfast_site}/nvidia/*/lib" "${_cnnfast_site}/nvidia/cuda_nvrtc/lib")
    list(APPEND _cnnfast_nvrtc_hints ${_cnnfast_wheel_libs})
  endforeach()
  find_library(CUDA_nvrtc_LIBRARY NAMES nvrtc libnvrtc.so.13 libnvrtc.so.12 HINTS ${_cnnfast_nvrtc_hints})
endif()
