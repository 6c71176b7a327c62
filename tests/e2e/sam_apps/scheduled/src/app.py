def handler(event, context):
    print(f"tick {event.get('job')}")
    return event
