#!/usr/bin/env python3
"""boto3_upload.py ENDPOINT BUCKET KEY FILE: boto3's managed upload_file (the
benchmark's peer) with its defaults (8 MiB multipart chunks, 10 threads)."""
import sys

import boto3
from botocore.config import Config

endpoint, bucket, key, path = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="S3RVER",
                  aws_secret_access_key="S3RVER", region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
s3.upload_file(path, bucket, key)
