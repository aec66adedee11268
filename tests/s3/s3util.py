#!/usr/bin/env python3
"""boto3 helpers for the S3 tests and benchmarks: an independent client to
set up buckets and users and to check what etl wrote.

    s3util.py ENDPOINT COMMAND ARGS...

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default
test/test). Commands:
    mkuser                       IAM user + key + allow-all policy; prints "AKID SECRET"
    mkbucket BUCKET
    ls BUCKET [PREFIX]           "key size etag" per object, in key order
    count BUCKET [PREFIX]        number of objects
    get BUCKET KEY FILE
    getall BUCKET PREFIX DIR     every object under PREFIX into DIR/<key minus PREFIX>
    put BUCKET KEY FILE
    putmany BUCKET PREFIX N      N small ndjson objects PREFIX00000.ndjson... (3 records each)
    etag BUCKET KEY              the ETag (quotes removed)
    exists BUCKET KEY            1 or 0 (HEAD: no listing, so no prefix in a query)
    uploads BUCKET               number of multipart uploads in progress
    openparts BUCKET             "key parts" per multipart upload in progress (ListParts)
    rm BUCKET PREFIX             deletes every object under PREFIX
    upload_file BUCKET KEY FILE  boto3's managed upload (the benchmark's peer)
"""
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def client(endpoint, service="s3"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def objects(s3, bucket, prefix=""):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            yield o


def main(argv):
    endpoint, command, args = argv[1], argv[2], argv[3:]
    if command == "mkuser":
        import json
        iam = client(endpoint, "iam")
        iam.create_user(UserName="etl")
        key = iam.create_access_key(UserName="etl")["AccessKey"]
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="etl", PolicyName="all", PolicyDocument=json.dumps(policy))
        print(key["AccessKeyId"], key["SecretAccessKey"])
        return 0
    s3 = client(endpoint)
    if command == "mkbucket":
        s3.create_bucket(Bucket=args[0])
    elif command == "ls":
        for o in objects(s3, args[0], args[1] if len(args) > 1 else ""):
            print(o["Key"], o["Size"], o["ETag"].strip('"'))
    elif command == "count":
        print(sum(1 for _ in objects(s3, args[0], args[1] if len(args) > 1 else "")))
    elif command == "get":
        s3.download_file(args[0], args[1], args[2])
    elif command == "getall":
        bucket, prefix, out = args
        for o in objects(s3, bucket, prefix):
            path = os.path.join(out, o["Key"][len(prefix):])
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "wb") as f:
                f.write(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
    elif command == "put":
        with open(args[2], "rb") as f:
            s3.put_object(Bucket=args[0], Key=args[1], Body=f.read())
    elif command == "putmany":
        bucket, prefix, n = args[0], args[1], int(args[2])
        for i in range(n):
            body = "".join('{"object":%d,"row":%d}\n' % (i, r) for r in range(3))
            s3.put_object(Bucket=bucket, Key="%s%05d.ndjson" % (prefix, i), Body=body.encode())
    elif command == "etag":
        print(s3.head_object(Bucket=args[0], Key=args[1])["ETag"].strip('"'))
    elif command == "exists":
        try:
            s3.head_object(Bucket=args[0], Key=args[1])
            print(1)
        except s3.exceptions.ClientError:
            print(0)
    elif command == "uploads":
        print(len(s3.list_multipart_uploads(Bucket=args[0]).get("Uploads", [])))
    elif command == "openparts":
        for u in s3.list_multipart_uploads(Bucket=args[0]).get("Uploads", []):
            parts = s3.list_parts(Bucket=args[0], Key=u["Key"], UploadId=u["UploadId"]).get("Parts", [])
            print(u["Key"], len(parts))
    elif command == "rm":
        for o in list(objects(s3, args[0], args[1])):
            s3.delete_object(Bucket=args[0], Key=o["Key"])
    elif command == "upload_file":
        s3.upload_file(args[2], args[0], args[1],
                       Config=TransferConfig(multipart_chunksize=8 * 1024 * 1024))
    else:
        print("unknown command " + command, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
